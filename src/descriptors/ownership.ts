/**
 * How the agent marks in the kernel itself what it made, so that after a restart (even with a store
 * that changed meanwhile) resync knows what is its own: links carry an alias naming the agent's
 * label and the config item; routes and neighbour entries carry our protocol number. What bears no
 * mark is never touched.
 */
export const ALIAS_PREFIX = 'netns-agent';

/** rtm_protocol / NDA_PROTOCOL of our routes and neighbours (free in iproute2's rt_protos). */
export const AGENT_PROTOCOL = 144;

/**
 * IFLA_GROUP a link is created in, until the request that sets its alias also puts it back in
 * group 0 (the kernel ignores an alias in the creating request): a link left unmarked by an agent
 * killed in between is still known as ours after the restart (re-created, not refused as foreign).
 */
export const CREATING_GROUP = 0x6e62; // 'nb'

export function ownerAlias(label: string, configName: string): string {
  return `${ALIAS_PREFIX}:${label}:${configName}`;
}

/** The config name an alias claims for this agent, or undefined when the link is not ours. */
export function ownedConfigName(label: string, alias: string | undefined): string | undefined {
  const prefix = `${ALIAS_PREFIX}:${label}:`;
  return alias?.startsWith(prefix) ? alias.slice(prefix.length) : undefined;
}

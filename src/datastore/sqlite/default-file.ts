/** Where the daemon keeps its embedded store unless told otherwise (its state files beside it). */
export const DEFAULT_STORE_FILE = '/var/lib/netns-agent/store.db';

/**
 * gRPC's text for a member it cannot reach ends with "Resolution note: " and nothing after it when
 * the name resolved fine; that empty tail (and the error class repeated inside it) only confuses
 * a reader of the log, wherever the text ends up (errors, the watch's lost state, the breaker).
 */
export function tidyGrpcMessage(message: string): string {
  return message.replace(/\.?\s*Resolution note:\s*$/, '').replace(/Last error: Error: /, 'Last error: ');
}

/** etcd's answer of a member that has no leader ("etcdserver: no leader"): quorum lost, or cut off. */
export function saysNoLeader(message: string): boolean {
  return message.includes('etcdserver: no leader');
}

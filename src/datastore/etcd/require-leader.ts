/**
 * etcd's "require leader" for the agent's watch: the `hasleader` metadata on the Watch stream makes
 * a member without a leader (quorum lost, or cut off in a minority) cancel the stream once it has had
 * no leader for a few election timeouts. Without it such a watch stays open and silent: the agent
 * said `in-sync` while it could hear no change. Only the watch: a read asked with it is refused
 * during an ordinary election instead of waiting the moment for the new leader.
 */
import { InterceptingCall, type Interceptor } from '@grpc/grpc-js';

export const REQUIRE_LEADER_METADATA = 'hasleader';

export const requireLeaderOnWatch: Interceptor = (options, nextCall) => {
  if (!options.method_definition.path.endsWith('/Watch')) return new InterceptingCall(nextCall(options));
  return new InterceptingCall(nextCall(options), {
    start(metadata, listener, next) {
      metadata.set(REQUIRE_LEADER_METADATA, 'true');
      next(metadata, listener);
    },
  });
};

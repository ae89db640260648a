/**
 * etcd's "require leader" for every call of the agent's client: the `hasleader` metadata makes a
 * member without a leader (quorum lost, or cut off in a minority) refuse a call at once with
 * "etcdserver: no leader", and cancel a watch stream once it has had no leader for a few election
 * timeouts. Without it a watch on such a member stays open and silent: the agent said `in-sync`
 * while it could hear no change, and a read waited for its deadline then blamed the network.
 */
import { InterceptingCall, type Interceptor } from '@grpc/grpc-js';

export const REQUIRE_LEADER_METADATA = 'hasleader';

export const requireLeader: Interceptor = (options, nextCall) =>
  new InterceptingCall(nextCall(options), {
    start(metadata, listener, next) {
      metadata.set(REQUIRE_LEADER_METADATA, 'true');
      next(metadata, listener);
    },
  });

/** Shared set-up of engine tests: an engine over a fake kernel with a manual clock. */
import { Engine, type EngineOptions, type ItemStatus } from '../../../src/scheduler/index.js';
import { FakeKernel, ManualClock, nodeDescriptor, type NodeOptions, type NodeValue } from './fake-kernel.js';

export interface Rig {
  engine: Engine;
  kernel: FakeKernel;
  clock: ManualClock;
  changes: ItemStatus[];
  state(key: string): string | undefined;
  put(...items: [string, NodeValue][]): ReturnType<Engine['commit']>;
  del(...keys: string[]): ReturnType<Engine['commit']>;
}

export function rig(options: EngineOptions = {}, node: NodeOptions = {}): Rig {
  const kernel = new FakeKernel();
  const clock = new ManualClock();
  const engine = new Engine({ clock, ...options });
  engine.register(nodeDescriptor(kernel, node));
  const changes: ItemStatus[] = [];
  engine.onStatus((c) => changes.push(...c));
  return {
    engine,
    kernel,
    clock,
    changes,
    state: (key) => engine.status(key)?.state,
    put: (...items) => engine.commit({ puts: items.map(([key, value]) => ({ key, value })) }),
    del: (...keys) => engine.commit({ deletes: keys }),
  };
}

export function ops(kernel: FakeKernel): string[] {
  return kernel.log.map((e) => `${e.op} ${e.key}`);
}

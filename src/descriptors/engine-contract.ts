/** The engine's descriptor contract, as the Linux descriptors use it (see src/scheduler). */
export type {
  Dependency as Dep,
  DerivedItem,
  DesiredView,
  EngineView,
  Retrieved,
  Descriptor as LinuxDescriptor,
} from '../scheduler/types.js';

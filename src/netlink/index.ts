export * from './codec/index.js';
export * from './errors.js';
export * from './socket.js';
export * from './events.js';
export * from './handle.js';
export * from './link-registry.js';
export * from './fault-injection.js';

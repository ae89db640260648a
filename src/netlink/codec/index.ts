export * from './constants.js';
export * from './attributes.js';
export * from './message.js';
export * from './ip.js';
export * from './link.js';
export * from './address.js';
export * from './route.js';
export * from './neighbour.js';

import { createRegistry } from './registry.js';
import { http } from './http/index.js';
import { dns } from './dns/index.js';

/** The one registry instance: adding a protocol is one line here. */
export const registry = createRegistry([http, dns]);

export { createRegistry, ProtocolRegistrationError } from './registry.js';
export type { ProtocolRegistry } from './registry.js';
export { createDispatcher, defaultDetectionLimits } from './dispatch.js';
export type { DetectionLimits, DispatcherOptions } from './dispatch.js';
export * from './types.js';

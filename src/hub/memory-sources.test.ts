import { runEntrySourceConformance } from './entry-source-conformance.js';
import { createMemoryEntrySource } from './memory-sources.js';

runEntrySourceConformance('in-memory', () => {
  const source = createMemoryEntrySource();
  return { source, add: (entries) => source.add(...entries) };
});

export { IssueCounter } from './issues.js';
export { toMillis, elapsedMillis, toRfc3339Nanos } from './time.js';
export { prng } from './prng.js';
export { fileErrorText } from './file-errors.js';

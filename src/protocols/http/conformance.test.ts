import { runConformance } from '../conformance.js';
import { http } from './index.js';
import { foreignSamples, httpSamples } from './samples.js';

runConformance(http, httpSamples, foreignSamples);

// `https://jslib.k6.io/k6-summary/<version>/index.js` inside a VU: the engine's own text summary.
import { textSummary } from '../text-summary.js'

export { textSummary }
export default { textSummary }

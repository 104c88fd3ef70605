export {
  openLiveCapture,
  type LiveCapture,
  type LiveCaptureOptions,
  type LiveCaptureStats,
  type LiveCaptureCounters,
  type InterfaceCounters,
  type LiveInterfaceInfo,
  type TsResolution,
} from './live-capture.js';
export { checkFilterExpression, compileFilter, keepPackets, packetFilter, type CompiledCaptureFilter, type PacketFilter } from './filter.js';
export { listInterfaces, pcapVersion, type CaptureInterfaceInfo, type InterfaceAddress, type InterfaceFlag } from './interfaces.js';
export { LiveCaptureError, missingCaptureCapabilities, type LiveCaptureErrorCode } from './errors.js';
export { liveCaptureUnavailableReason, addonPath, BUILD_COMMAND } from './addon.js';

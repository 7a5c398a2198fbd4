// The segment service: audiences over the in-memory customer index. Wiring only; the domain is in the
// Segment library.
import Segment
import ServiceKit

let settings = loadConfigurationOrExit(service: "segment") { config in try SegmentSettings(config: config) }
let segment: SegmentApp
do {
    segment = try SegmentApp(settings: settings)
} catch {
    ConfigurationFailure.exit(service: "segment", error: error)
}
segment.runUntilTerminated()

// The canvas service: canvases, approvals, the journey engine, entries and journey statistics.
// Wiring only; the domain is in the Canvas library.
import Canvas
import ServiceKit

let settings = loadConfigurationOrExit(service: "canvas") { config in try CanvasSettings(config: config) }
let canvas: CanvasApp
do {
    canvas = try CanvasApp(settings: settings)
} catch {
    ConfigurationFailure.exit(service: "canvas", error: error)
}
canvas.runUntilTerminated()

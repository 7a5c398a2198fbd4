// The dispatcher service: templates, compliance, send policies, delivery to providers, receipts, inbox.
// Wiring only; the domain is in the Dispatcher library.
import Dispatcher
import ServiceKit

let settings = loadConfigurationOrExit(service: "dispatcher") { config in try DispatcherSettings(config: config) }
let dispatcher: DispatcherApp
do {
    dispatcher = try DispatcherApp(settings: settings)
} catch {
    ConfigurationFailure.exit(service: "dispatcher", error: error)
}
dispatcher.runUntilTerminated()

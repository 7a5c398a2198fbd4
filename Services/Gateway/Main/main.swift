// The gateway: the platform's only public door. Wiring only; the domain is in the Gateway library.
import Gateway
import ServiceKit

let settings = loadConfigurationOrExit(service: "gateway") { config in try GatewaySettings(config: config) }
let gateway: GatewayApp
do {
    gateway = try GatewayApp(settings: settings)
} catch {
    ConfigurationFailure.exit(service: "gateway", error: error)
}
gateway.runUntilTerminated()

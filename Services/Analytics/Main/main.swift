// The analytics service: facts from every service's outbox, rollups, funnels, experiments, dashboards.
// Wiring only; the domain is in the Analytics library.
import Analytics
import ServiceKit

let settings = loadConfigurationOrExit(service: "analytics") { config in try AnalyticsSettings(config: config) }
let analytics: AnalyticsApp
do {
    analytics = try AnalyticsApp(settings: settings)
} catch {
    ConfigurationFailure.exit(service: "analytics", error: error)
}
analytics.runUntilTerminated()

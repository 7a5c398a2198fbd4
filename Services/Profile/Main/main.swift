// The profile service: the customer data platform. Wiring only; the domain is in the Profile library.
import Profile
import ServiceKit

let settings = loadConfigurationOrExit(service: "profile") { config in try ProfileSettings(config: config) }
let profile: ProfileApp
do {
    profile = try ProfileApp(settings: settings)
} catch {
    ConfigurationFailure.exit(service: "profile", error: error)
}
profile.runUntilTerminated()

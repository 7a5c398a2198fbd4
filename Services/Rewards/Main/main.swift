// The rewards service: catalog, sharded stock and budgets, grants, redemption, points, lotteries.
// Wiring only; the domain is in the Rewards library.
import Rewards
import ServiceKit

let settings = loadConfigurationOrExit(service: "rewards") { config in try RewardsSettings(config: config) }
let rewards: RewardsApp
do {
    rewards = try RewardsApp(settings: settings)
} catch {
    ConfigurationFailure.exit(service: "rewards", error: error)
}
rewards.runUntilTerminated()

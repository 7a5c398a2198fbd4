// An outbox relay as a process of its own, for the test that kills a relay with SIGKILL in the middle
// of a delivery and checks that another relay delivers everything.
//
// Configuration (environment):
//   OUTBOX_FIXTURE_DATABASE_URL      postgres://… of the test database
//   OUTBOX_FIXTURE_SCHEMA            the test's schema (already migrated)
//   OUTBOX_FIXTURE_SUBSCRIBERS       name=url[,name=url…]
//   OUTBOX_FIXTURE_LEASE             duration, e.g. 2s (default 2s)
//   OUTBOX_FIXTURE_DELIVERY_TIMEOUT  duration (default 1s)
//   OUTBOX_FIXTURE_POLL_INTERVAL     duration (default 200ms)
//   OUTBOX_FIXTURE_THREADS           delivery threads (default 2)
//   OUTBOX_FIXTURE_BATCH_SIZE        rows per claim (default 5)
//   OUTBOX_FIXTURE_RELAY_ID          lease owner name (default generated)
// Prints `ready` on stdout once started; SIGTERM stops it gracefully (exit 0). Errors exit 2.
import Foundation
import HTTP
import Postgres
import ServiceKit

func fail(_ message: String) -> Never {
    FileHandle.standardError.write(Data("OutboxRelayFixture: \(message)\n".utf8))
    exit(2)
}

let relay: OutboxRelay
do {
    let config = ConfigReader().accumulatingErrors()
    let url = try config.string("OUTBOX_FIXTURE_DATABASE_URL")
    let schema = try config.string("OUTBOX_FIXTURE_SCHEMA")
    let subscribers = try config.string("OUTBOX_FIXTURE_SUBSCRIBERS")
    let lease = try config.duration("OUTBOX_FIXTURE_LEASE", in: 0.1...3_600, default: 2)
    let timeout = try config.duration("OUTBOX_FIXTURE_DELIVERY_TIMEOUT", in: 0.01...600, default: 1)
    let poll = try config.duration("OUTBOX_FIXTURE_POLL_INTERVAL", in: 0.01...60, default: 0.2)
    let threads = try config.int("OUTBOX_FIXTURE_THREADS", in: 1...64, default: 2)
    let batch = try config.int("OUTBOX_FIXTURE_BATCH_SIZE", in: 1...1_000, default: 5)
    let relayId = try config.string("OUTBOX_FIXTURE_RELAY_ID", default: InstanceName.make("fixture-relay"))
    try config.validate()

    var database = try PostgresConfiguration(url: url)
    database.poolSize = threads + 2
    database.applicationName = "outbox-relay-fixture"
    let pool = PostgresPool(configuration: database)
    let relayConfiguration = OutboxRelayConfiguration(
        schema: schema, subscribers: try OutboxRelayConfiguration.parseSubscribers(subscribers), relayId: relayId,
        deliveryThreads: threads, batchSize: batch, pollInterval: poll, lease: lease, deliveryTimeout: timeout,
        maxAttempts: 50, backoff: RetryBackoff(base: 0.05, maximum: 0.5))
    let client = HTTPClient(configuration: .init(connectTimeoutMs: 500, timeoutMs: Int(timeout * 1000),
                                                 internalCredential: "fixture-credential", retry: .none))
    relay = try OutboxRelay(configuration: relayConfiguration, pool: pool, client: client,
                            logger: Logger(service: "outbox-relay-fixture", minimumLevel: .warning,
                                           sink: StandardOutputLogSink(fileDescriptor: STDERR_FILENO)))
    try relay.start()
} catch {
    fail("\(error)")
}

FileHandle.standardOutput.write(Data("ready\n".utf8))
signal(SIGTERM, SIG_IGN)
let term = DispatchSource.makeSignalSource(signal: SIGTERM, queue: .main)
term.setEventHandler {
    relay.stop(timeout: 5)
    exit(0)
}
term.resume()
dispatchMain()

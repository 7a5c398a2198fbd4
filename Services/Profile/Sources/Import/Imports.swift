import Foundation
import HTTP
import Postgres
import ServiceKit

/// The import feature assembled: records, the upload receiver, the merger and its job worker (a
/// background task of the service, so any replica merges and a killed one's job is taken over).
public struct Imports: Sendable {
    public let store: ImportStore
    public let receiver: ImportReceiver
    public let merger: ImportMerger
    public let worker: JobWorker

    public init(service: Service, catalog: AttributeCatalog, orgs: OrgDirectory, limits: ImportLimits = ImportLimits(),
                uploadConcurrency: Int = 2) throws {
        let schema = service.settings.databaseSchema
        store = ImportStore(database: service.database, limits: limits)
        merger = ImportMerger(database: service.database, limits: limits)
        // One thread: a merge is a long job that keeps the database busy; a second import waits its turn
        // (or runs on another replica). The lease is renewed while it runs.
        worker = try JobWorker(configuration: JobWorkerConfiguration(schema: schema, workerId: InstanceName.make("profile-import"),
                                                                    threads: 1, batchSize: 1, lease: 60, pollInterval: 1),
                               pool: service.database, logger: service.logger, metrics: service.metrics)
        let worker = self.worker
        receiver = ImportReceiver(store: store, catalog: catalog, orgs: orgs, jobs: try JobQueue(schema: schema),
                                  limits: limits, wake: { worker.wakeUp() },
                                  active: ImportReceiver.UploadSlots(capacity: uploadConcurrency))
        let merger = self.merger
        try worker.register(queue: ImportMerger.queue) { job in try merger.run(job) }
        service.add(task: worker)
    }
}

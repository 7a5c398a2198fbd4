import Contracts
import Foundation
import ServiceKit

/// Creates lists from uploaded customer ids: the ids of customers in the caller's subtree (as the
/// index knows them now) are stored; the others are reported as unknown, never stored, so a branch
/// cannot put another branch's customer on its list, nor learn whether one exists.
public struct ListUploads: Sendable {
    let live: LiveIndex
    let store: ListStore

    /// Unknown ids listed in the answer at most (all of them are counted).
    static let maximumReported = 1_000

    func create(body: [String: JSONValue], caller: CallerIdentity) throws -> ListUploadResult {
        let input = try ListInput(body: body, caller: caller)
        let (accepted, unknown) = try live.read { state in
            let scope = state.index.scope(caller.orgPath)
            func inScope(_ id: String) -> Bool { state.index.slot(of: id).map(scope.contains) ?? false }
            var accepted: [String] = [], unknown: [String] = []
            for id in input.customerIds {
                if inScope(id) { accepted.append(id) } else { unknown.append(id) }
            }
            return (accepted, unknown)
        }
        let list = try store.create(input, members: accepted, caller: caller)
        return ListUploadResult(list: list, accepted: accepted.count, unknownCount: unknown.count,
                                unknownIds: Array(unknown.prefix(Self.maximumReported)))
    }
}

import Contracts
import Foundation

/// Checks what a canvas names in other services, as the saving caller sees it: the entry's segment,
/// each send node's templates (approved, of the node's channel) and each reward node's reward. An
/// unknown reference is 422 `canvas_invalid` naming the node; a service that cannot answer is 503,
/// never an accepted unknown id.
struct ReferenceCheck: Sendable {
    let peers: Peers

    func check(_ document: CanvasDocument, caller: CallerIdentity) throws {
        if let segment = document.entry.segmentId {
            guard try peers.lookup(peers.segmentURL, "/api/v1/segments/\(Peers.escape(segment))", service: "segment", caller: caller) != nil else {
                throw CanvasDocument.invalid("entry: no segment \(segment.prefix(64)) in your scope", node: nil, field: "entry.segmentId")
            }
        }
        var templates: [String: JSONValue?] = [:]
        func template(_ id: String) throws -> JSONValue? {
            if let known = templates[id] { return known }
            let t = try peers.lookup(peers.dispatcherURL, "/api/v1/templates/\(Peers.escape(id))", service: "dispatcher", caller: caller)
            templates[id] = t
            return t
        }
        for node in document.nodes {
            switch node.kind {
            case .send(let channel, let templateId, let fallback, let fallbackTemplateId, _):
                var pairs = [(channel, templateId, "templateId")]
                if let fallback, let fallbackTemplateId { pairs.append((fallback, fallbackTemplateId, "fallbackTemplateId")) }
                for (channel, id, member) in pairs {
                    guard let t = try template(id) else {
                        throw CanvasDocument.invalid("node \(node.id): no template \(id.prefix(64)) in your scope", node: node.id,
                                                     field: node.field + "." + member)
                    }
                    guard t["channel"]?.stringValue == channel else {
                        throw CanvasDocument.invalid("node \(node.id): template \(id.prefix(64)) is for \(t["channel"]?.stringValue ?? "?"), not \(channel)",
                                                     node: node.id, field: node.field + "." + member)
                    }
                    guard t["status"]?.stringValue == "approved" else {
                        throw CanvasDocument.invalid("node \(node.id): template \(id.prefix(64)) is not approved yet", node: node.id,
                                                     field: node.field + "." + member)
                    }
                }
            case .reward(let rewardId, _):
                guard try peers.lookup(peers.rewardsURL, "/api/v1/rewards/\(Peers.escape(rewardId))", service: "rewards", caller: caller) != nil else {
                    throw CanvasDocument.invalid("node \(node.id): no reward \(rewardId.prefix(64)) in your scope", node: node.id,
                                                 field: node.field + ".rewardId")
                }
            default: break
            }
        }
    }
}

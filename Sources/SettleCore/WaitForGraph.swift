/// The wait-for graph of transfers across participants: an edge T → U means a branch of T waits
/// for a lock held by a branch of U. A cycle is a deadlock no single database can see (each holds
/// only its own part of it); it never resolves by itself, since a prepared branch keeps its locks
/// until its coordinator decides.
public struct WaitForGraph<Node: Hashable> {
    private var successors: [Node: Set<Node>] = [:]

    public init() {}

    public mutating func add(waiting: Node, holder: Node) {
        successors[waiting, default: []].insert(holder)
        if successors[holder] == nil { successors[holder] = [] }
    }

    /// One victim per deadlock: in every strongly connected component that holds a cycle (two or
    /// more transfers, or one that waits for itself), the node `isYounger` ranks youngest, so the
    /// oldest transfers always make progress. Aborting it breaks at least one cycle; any other
    /// cycle in the same component is found again on the next look.
    public func victims(isYounger: (Node, Node) -> Bool) -> [Node] {
        stronglyConnectedComponents().compactMap { component in
            let isCycle = component.count > 1 || component.first.map { successors[$0]?.contains($0) == true } == true
            guard isCycle else { return nil }
            return component.max { isYounger($1, $0) }
        }
    }

    /// Tarjan's algorithm, iterative so a long chain cannot overflow the stack.
    func stronglyConnectedComponents() -> [[Node]] {
        var index: [Node: Int] = [:]
        var lowLink: [Node: Int] = [:]
        var onStack: Set<Node> = []
        var stack: [Node] = []
        var components: [[Node]] = []
        var nextIndex = 0
        for root in successors.keys where index[root] == nil {
            var work: [(node: Node, remaining: [Node])] = []
            func open(_ node: Node) {
                index[node] = nextIndex
                lowLink[node] = nextIndex
                nextIndex += 1
                stack.append(node)
                onStack.insert(node)
                work.append((node, Array(successors[node] ?? [])))
            }
            open(root)
            while let top = work.last {
                if let next = top.remaining.last {
                    work[work.count - 1].remaining.removeLast()
                    if index[next] == nil {
                        open(next)
                    } else if onStack.contains(next) {
                        lowLink[top.node] = min(lowLink[top.node] ?? 0, index[next] ?? 0)
                    }
                    continue
                }
                work.removeLast()
                if let parent = work.last {
                    lowLink[parent.node] = min(lowLink[parent.node] ?? 0, lowLink[top.node] ?? 0)
                }
                if lowLink[top.node] == index[top.node] {
                    var component: [Node] = []
                    while let member = stack.popLast() {
                        onStack.remove(member)
                        component.append(member)
                        if member == top.node { break }
                    }
                    components.append(component)
                }
            }
        }
        return components
    }
}

import Testing
@testable import SignedLog

/// The log's Merkle tree must agree with every other RFC 9162 implementation, or its proofs
/// convince nobody: the vectors are Certificate Transparency's reference tree of eight leaves.
@Suite("Merkle tree (RFC 9162)")
struct MerkleTests {
    static let referenceLeaves: [[UInt8]] = [
        [], [0x00], [0x10], [0x20, 0x21], [0x30, 0x31], [0x40, 0x41, 0x42, 0x43],
        [0x50, 0x51, 0x52, 0x53, 0x54, 0x55, 0x56, 0x57], Array(0x60...0x6f),
    ]
    static let referenceRoots = [
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
        "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
        "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
        "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
        "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
        "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
        "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
        "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
    ]
    static var leafHashes: [SHA256Digest] { referenceLeaves.map { MerkleHash.leaf($0) } }

    @Test func rootsMatchTheReferenceTreeAtEverySize() {
        var frontier = MerkleFrontier.empty
        #expect(frontier.root.description == Self.referenceRoots[0])
        for (size, leaf) in Self.leafHashes.enumerated() {
            frontier.append(leaf: leaf)
            #expect(frontier.root.description == Self.referenceRoots[size + 1], "size \(size + 1)")
            #expect(MerkleProof.root(of: Self.leafHashes[...(size)]).description == Self.referenceRoots[size + 1])
        }
    }

    /// The batch signer takes every path at once: they must be exactly RFC 9162's, one by one.
    @Test func everyPathAtOnceIsEveryPathOneByOne() {
        for size in 1...40 {
            let leaves = (0..<size).map { MerkleHash.leaf([UInt8(truncatingIfNeeded: $0), UInt8(size)]) }
            let all = MerkleProof.rootAndAllInclusions(in: leaves[...])
            #expect(all.root == MerkleProof.root(of: leaves[...]), "size \(size)")
            #expect(all.paths == leaves.indices.map { MerkleProof.inclusion(of: $0, in: leaves[...]) }, "size \(size)")
        }
        #expect(MerkleProof.rootAndAllInclusions(in: Self.leafHashes[...]).root.description == Self.referenceRoots[8])
    }

    @Test func proofsMatchTheReferenceVectors() {
        let leaves = Self.leafHashes[...]
        #expect(
            MerkleProof.inclusion(of: 0, in: leaves).map(\.description) == [
                "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
                "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
                "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
            ])
        #expect(
            MerkleProof.inclusion(of: 5, in: leaves).map(\.description) == [
                "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
                "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
                "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
            ])
        #expect(
            MerkleProof.consistency(from: 6, in: leaves).map(\.description) == [
                "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
                "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
                "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
            ])
        #expect(
            MerkleProof.consistency(from: 2, in: leaves[..<5]).map(\.description) == [
                "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
                "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
            ])
    }

    /// Every shape of the recursion: every leaf of every tree up to 40 leaves proves its
    /// inclusion, and the proof fails for another leaf or index. (The size a proof is checked
    /// against comes from the signed tree head, which binds it to the root.)
    @Test func everyInclusionProofVerifiesAndNoOtherDoes() {
        let leaves = (0..<40).map { MerkleHash.leaf([UInt8($0), 7]) }
        for size in 1...leaves.count {
            let tree = leaves[..<size]
            let root = MerkleProof.root(of: tree)
            for index in 0..<size {
                let path = MerkleProof.inclusion(of: index, in: tree)
                #expect(MerkleProof.verifyInclusion(leaf: leaves[index], index: UInt64(index), size: UInt64(size), path: path, root: root))
                #expect(
                    !MerkleProof.verifyInclusion(leaf: leaves[(index + 1) % 40], index: UInt64(index), size: UInt64(size), path: path, root: root))
                if size > 1 {
                    #expect(
                        !MerkleProof.verifyInclusion(
                            leaf: leaves[index], index: UInt64((index + 1) % size), size: UInt64(size), path: path, root: root))
                }
            }
        }
    }

    @Test func everyConsistencyProofVerifiesAndARewrittenTreeFails() {
        let leaves = (0..<33).map { MerkleHash.leaf([UInt8($0)]) }
        var rewritten = leaves
        for newSize in 1...leaves.count {
            let newRoot = MerkleProof.root(of: leaves[..<newSize])
            for oldSize in 1...newSize {
                let oldRoot = MerkleProof.root(of: leaves[..<oldSize])
                let proof = MerkleProof.consistency(from: oldSize, in: leaves[..<newSize])
                #expect(
                    MerkleProof.verifyConsistency(
                        oldSize: UInt64(oldSize), oldRoot: oldRoot, newSize: UInt64(newSize), newRoot: newRoot, proof: proof))
                // Any leaf before the old size changed: the new tree no longer extends the old one.
                rewritten[oldSize - 1] = MerkleHash.leaf([0xEE])
                let forgedRoot = MerkleProof.root(of: rewritten[..<newSize])
                let forgedProof = MerkleProof.consistency(from: oldSize, in: rewritten[..<newSize])
                #expect(
                    !MerkleProof.verifyConsistency(
                        oldSize: UInt64(oldSize), oldRoot: oldRoot, newSize: UInt64(newSize), newRoot: forgedRoot, proof: forgedProof))
                rewritten[oldSize - 1] = leaves[oldSize - 1]
            }
        }
    }

    @Test func aFrontierIsOnlyAsLargeAsItsBinaryDecomposition() {
        #expect(MerkleFrontier(size: 5, peaks: [MerkleHash.emptyRoot]) == nil)
        var frontier = MerkleFrontier.empty
        for count in 1...100 {
            frontier.append(leaf: MerkleHash.leaf([UInt8(count)]))
            #expect(frontier.peaks.count == count.nonzeroBitCount)
            #expect(MerkleFrontier(size: frontier.size, peaks: frontier.peaks) == frontier)
        }
    }
}

import Foundation
import SettleAuth
import SettleTestSupport
import SignedLog
import Testing

/// `settled --rotate-key` on a stopped coordinator: the log goes on under the new key, settled
/// refuses the old key afterwards, orders are signed by the new key, and the audit follows the
/// rotation with both public keys.
@Suite("settled --rotate-key", .timeLimit(.minutes(5)))
struct KeyRotationProcessTests {
    @Test func aCoordinatorRotatesItsKeyAndCarriesOnWithTheSameLog() async throws {
        try await withDeployment { deployment throws in
            let before = try await deployment.client {
                try await $0.submit(id: "before", branches: Deployment.branches(amount: 100, fromA: true, account: 1), wait: true)
            }
            #expect(before.state == .committed)
            deployment.settled?.stop()

            let newKeyPath = deployment.directory.subpath("keys/next.pem")
            let newPublicKeyPath = deployment.directory.subpath("keys/next.pub.pem")
            let newKey = try SigningKey.generate()
            try PrivateKeyFile.create(newKeyPath, bytes: newKey.pkcs8PEMBytes(), mode: 0o600)
            try PrivateKeyFile.create(newPublicKeyPath, bytes: newKey.verifyingKey.pemBytes(), mode: 0o644)
            // Participants learn the new public key first, beside the old one.
            for index in 0..<2 {
                let entry: [String: Any] = [
                    "id": deployment.coordinatorID, "tokenSHA256": TokenSource.hexDigest(ofToken: deployment.bankTokens[index]),
                    "publicKeys": [deployment.publicKeyPath, newPublicKeyPath],
                ]
                try JSONSerialization.data(withJSONObject: [entry]).write(to: URL(fileURLWithPath: deployment.coordinatorsPath(index)))
                deployment.banks[index].stop()
                try deployment.startBank(index, port: deployment.bankPorts[index])
            }

            let configPath = deployment.directory.subpath("settled.json")
            let rotated = try run("settled", ["--config", configPath, "--rotate-key", newKeyPath])
            #expect(rotated.status == 0, "\(rotated.errorOutput)")
            #expect(rotated.output.contains("the log rotated to the key in \(newKeyPath) at LSN"), "\(rotated.output)")

            let withOldKey = try run("settled", ["--config", configPath], timeout: .seconds(30))
            #expect(withOldKey.status != 0)
            #expect(withOldKey.errorOutput.contains("not by this signing key"), "\(withOldKey.errorOutput)")

            try deployment.reconfigure(["signingKey": newKeyPath, "previousPublicKeys": [deployment.publicKeyPath]])
            try deployment.startSettled()
            let recovered = try await deployment.client { try await $0.get(id: "before") }
            #expect(recovered.state == .committed, "the transfer before the rotation is still known")
            let after = try await deployment.client {
                try await $0.submit(id: "after", branches: Deployment.branches(amount: 50, fromA: true, account: 2), wait: true)
            }
            #expect(after.state == .committed, "participants accept orders signed by the new key")
            deployment.settled?.stop()

            let logArguments = ["audit", "verify", "--log", deployment.logDirectory, "--public-key", deployment.publicKeyPath]
            let bothKeys = try run("settle", logArguments + ["--public-key", newPublicKeyPath])
            #expect(bothKeys.status == 0, "\(bothKeys.errorOutput)")
            #expect(bothKeys.output.contains(newKey.verifyingKey.keyID.description + " from LSN"), "\(bothKeys.output)")
            let oldKeyOnly = try run("settle", logArguments)
            #expect(oldKeyOnly.status == 1)
            #expect(oldKeyOnly.errorOutput.contains("to which the log rotated at LSN"), "\(oldKeyOnly.errorOutput)")
            #expect(try await deployment.totalBalance() == deployment.expectedTotal)
        }
    }
}

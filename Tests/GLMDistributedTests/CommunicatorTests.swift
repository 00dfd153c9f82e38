import XCTest
import GLMDistributed

/// Without an MPI launcher nothing MPI happens: a plain process stays a one-process run.
final class CommunicatorTests: XCTestCase {
    func testNoLauncherMeansNoWorld() throws {
        if ProcessInfo.processInfo.environment["OMPI_COMM_WORLD_SIZE"] != nil { throw XCTSkip("running under mpirun") }
        XCTAssertNil(try Communicator.world())
    }
}

import XCTest
@testable import Checkpoint

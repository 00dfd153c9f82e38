import XCTest
@testable import Training

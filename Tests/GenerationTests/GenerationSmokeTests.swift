import XCTest
@testable import Generation

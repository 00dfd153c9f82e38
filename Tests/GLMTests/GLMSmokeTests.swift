import XCTest
@testable import GLM

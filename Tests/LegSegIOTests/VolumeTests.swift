import Testing
@testable import LegSegIO

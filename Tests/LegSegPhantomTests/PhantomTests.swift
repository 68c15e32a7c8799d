import Testing
import LegSegPhantom

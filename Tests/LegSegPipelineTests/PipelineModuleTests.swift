import Testing
import LegSegPipeline

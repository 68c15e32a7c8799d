/// LegSegPipeline: the SegmentData pipeline (filled by the segment issue).
public enum LegSegPipeline {}

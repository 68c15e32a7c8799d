/// LegSegPhantom: synthetic leg phantoms with known truth (filled by the phantom issue).
public enum LegSegPhantom {}

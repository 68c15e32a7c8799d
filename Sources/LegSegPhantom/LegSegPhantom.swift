/// LegSegPhantom: synthetic leg phantoms with known truth (docs/phantom.md).
///
/// Entry points: `PhantomGenerator.generate(options:seed:index:name:)` and `PhantomCase.write(to:)`.
/// Files: Anatomy (muscle catalogue and sources), Subject (body size, asymmetry, disease), Geometry (leg axes,
/// bones), CrossSection (fitted muscle blobs, fascia, fat, vessels), Renderer (fine-grid labels and Dixon
/// signal), Signal (tissue table, bias, contrast randomisation), Random (seeded PRNG, noise). The label tables
/// it paints with are `LegSegIO.LabelTables`.
public enum LegSegPhantom {}

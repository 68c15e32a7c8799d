/// Backward (gradient) operations a backend offers on top of forward inference. Kept apart from `Backend` so
/// that inference-only backends stay small. Every method takes tensors created by the same backend; gradients
/// have the logical shape of the value they belong to. Weight gradients of transposed convolutions come back in
/// PyTorch's order `[I, O, k...]`, like the weights.
public protocol TrainingBackend: Backend {
    /// Batch normalisation with batch statistics (training mode): per channel over N and all spatial axes,
    /// biased variance. Returns the output and the batch mean and (biased) variance as `.vector` tensors.
    func batchNormalizationTraining(_ input: any DeviceTensor, scale: any DeviceTensor, shift: any DeviceTensor,
                                    epsilon: Float) throws -> (output: any DeviceTensor, mean: any DeviceTensor, variance: any DeviceTensor)
    /// Gradients of training-mode batch normalisation with respect to input, scale and shift.
    func batchNormalizationBackward(_ gradOutput: any DeviceTensor, input: any DeviceTensor, scale: any DeviceTensor,
                                    shift: any DeviceTensor,
                                    mean: any DeviceTensor, variance: any DeviceTensor, epsilon: Float) throws
        -> (input: any DeviceTensor, scale: any DeviceTensor, shift: any DeviceTensor)

    /// Instance normalisation with each sample's own statistics per channel (what it always uses); also returns
    /// the per-sample mean and biased variance `[N, C]` that the backward pass needs.
    func instanceNormalizationTraining(_ input: any DeviceTensor, scale: any DeviceTensor, shift: any DeviceTensor,
                                       epsilon: Float) throws -> (output: any DeviceTensor, mean: any DeviceTensor, variance: any DeviceTensor)
    /// Gradients of instance normalisation with respect to input, scale and shift (the latter summed over samples).
    func instanceNormalizationBackward(_ gradOutput: any DeviceTensor, input: any DeviceTensor, scale: any DeviceTensor,
                                       shift: any DeviceTensor, mean: any DeviceTensor, variance: any DeviceTensor,
                                       epsilon: Float) throws -> (input: any DeviceTensor, scale: any DeviceTensor, shift: any DeviceTensor)

    /// Gradient of a convolution with respect to its input of spatial size `inputShape`.
    func convolutionBackwardData(_ gradOutput: any DeviceTensor, weight: any DeviceTensor, inputShape: [Int],
                                 geometry: ConvolutionGeometry) throws -> any DeviceTensor
    /// Gradients of a convolution with respect to weight `[O, I, k...]` (f32) and, when `bias`, the bias `[O]`.
    func convolutionBackwardWeights(_ input: any DeviceTensor, gradOutput: any DeviceTensor, weightShape: [Int],
                                    geometry: ConvolutionGeometry, bias: Bool) throws -> (weight: any DeviceTensor, bias: (any DeviceTensor)?)
    func transposedConvolutionBackwardData(_ gradOutput: any DeviceTensor, weight: any DeviceTensor, inputShape: [Int],
                                           geometry: ConvolutionGeometry) throws -> any DeviceTensor
    /// `weightShape` in PyTorch's order `[I, O, k...]`; the gradient comes back in that order.
    func transposedConvolutionBackwardWeights(_ input: any DeviceTensor, gradOutput: any DeviceTensor, weightShape: [Int],
                                              geometry: ConvolutionGeometry, bias: Bool) throws -> (weight: any DeviceTensor, bias: (any DeviceTensor)?)
    func denseBackwardData(_ gradOutput: any DeviceTensor, weight: any DeviceTensor, inputShape: [Int]) throws -> any DeviceTensor
    func denseBackwardWeights(_ input: any DeviceTensor, gradOutput: any DeviceTensor, bias: Bool) throws
        -> (weight: any DeviceTensor, bias: (any DeviceTensor)?)

    /// Gradient of `activation` evaluated at `input`.
    func activationBackward(_ gradOutput: any DeviceTensor, input: any DeviceTensor, _ activation: Activation) throws -> any DeviceTensor
    /// Gradient of the softmax over channels, given its output.
    func softmaxBackward(_ gradOutput: any DeviceTensor, output: any DeviceTensor) throws -> any DeviceTensor
    /// Gradient of pooling; max pooling recomputes the arg-max positions from `input`.
    func poolingBackward(_ gradOutput: any DeviceTensor, input: any DeviceTensor, geometry: PoolingGeometry) throws -> any DeviceTensor
    func globalAveragePoolingBackward(_ gradOutput: any DeviceTensor, inputShape: [Int]) throws -> any DeviceTensor
    /// The polyphase parts of a fine-grid tensor (the inverse of `interleave`, hence also its gradient).
    func deinterleave(_ input: any DeviceTensor, factors: [Int]) throws -> [any DeviceTensor]
    func upsampleBackward(_ gradOutput: any DeviceTensor, inputShape: [Int], factors: [Int], mode: UpsamplingMode) throws -> any DeviceTensor
    /// Splits along channels into consecutive parts of the given sizes (the gradient of a concatenation).
    func splitChannels(_ input: any DeviceTensor, sizes: [Int]) throws -> [any DeviceTensor]
    /// Sum of two gradients of equal shape, whatever their layouts.
    func addGradients(_ a: any DeviceTensor, _ b: any DeviceTensor) throws -> any DeviceTensor
    /// Element-wise product of two tensors of equal shape (dropout masks).
    func multiply(_ a: any DeviceTensor, _ b: any DeviceTensor) throws -> any DeviceTensor
}

/// LegSegTraining: losses, optimisers, augmentation and the training loop (filled by the training issues).
public enum LegSegTraining {}

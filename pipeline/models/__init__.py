"""Networks: torchvision ResNet backbones, the CAM classifier, AffinityNet, DeepLab."""

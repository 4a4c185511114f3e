"""Built-in ports: the reference, HF transformers, ONNX Runtime."""

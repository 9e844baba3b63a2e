"""The core layer: the lesson model, its file formats, result types, the course policy."""

"""Reading a .tflite file: the schema, bounds on hostile input, and the parse into the graph IR."""

"""Memory analysis: lifetimes, the TFLM greedy planner, live sets, layouts."""

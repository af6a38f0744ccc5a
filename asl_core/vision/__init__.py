"""The hand pipeline: MediaPipe hands, what each model sees, and the tensors it is fed.

`hands` finds hands and their 21 landmarks (`native_logs` keeps MediaPipe's start-up log
lines off stderr); `views` makes the hand crop, the skeleton drawing and the landmark vector;
`spec` declares what a model reads (`InputSpec`); `tensors` turns a
detection into that input; `overlay` draws answers on frames.

May import: numpy, OpenCV, MediaPipe, torch (in `tensors` only), `asl_core.io`.
Never `asl_core.models` or anything above it.
"""

import WideNet; print(widenetVersion)

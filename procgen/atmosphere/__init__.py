"""What lies between the camera and the scene, and above it: sky, sun, clouds, fog, weather, the sea.

``sky`` (physical sky, sun lamp and their match), ``clouds`` (a cloud deck painted into the
world shader), ``fog`` (height fog as a shading effect), ``weather`` (falling rain and snow)
and ``underwater`` (open water seen from below the surface, caustics).
"""

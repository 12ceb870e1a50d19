"""The room in 3D from one photo: camera intrinsics, metric depth, floor plane, measurements,
a coloured mesh or point cloud, and a small point renderer for the window's 3D view."""

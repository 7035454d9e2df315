module reqtrack

go 1.19

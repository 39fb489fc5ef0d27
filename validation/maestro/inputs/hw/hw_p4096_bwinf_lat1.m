num_pes: 4096
l1_size_cstr: 1000000000
l2_size_cstr: 1000000000
noc_bw_cstr: 1000000000
offchip_bw_cstr: 1000000000
NoC_NumHops: 1

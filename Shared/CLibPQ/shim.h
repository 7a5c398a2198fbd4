#ifndef LATTICE_CLIBPQ_SHIM_H
#define LATTICE_CLIBPQ_SHIM_H
#include <libpq-fe.h>
#endif

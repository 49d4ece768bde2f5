/* ss_conformance: see main.c. */
#include "conformance.h"

int main(int argc, char **argv)
{
    return cf_main(argc, argv);
}
